// The contract between the reader screen (Reader.tsx) and its engines (PdfReader, EpubReader,
// ImageReader), in a module of its own: the screen loads the engines on demand and they only
// need this type, so neither imports the other's module at run time.
import type { FileRow } from "../db";
import type { Intent, Position } from "./position";

/** What every engine gets: the bytes, where to open, and where to report moves. */
export interface EngineProps {
  blob: Blob;
  file: FileRow;
  start: Position | null;
  onMove: (position: Position, intent: Intent) => void;
}
