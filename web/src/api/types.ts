// Names for the generated schema's types: every shape the client sends or reads comes from the
// API's OpenAPI schema (scripts/schema.mjs), none is written by hand.
import type { components } from "./schema";

type S = components["schemas"];
export type Task = S["TaskOutput"];
export type TaskList = S["TaskListOutput"];
export type Note = S["NoteOutput"];
export type Highlight = S["NoteHighlightOutput"];
export type TaskFields = S["PatchedTaskInputRequest"];
export type TaskListFields = S["PatchedTaskListInputRequest"];
export type NoteFields = S["PatchedNoteWriteInputRequest"];
export type PushOp = S["PushOpInputRequest"];
export type PushResult = S["PushResultOutput"];
export type Change = S["ChangeOutput"];
export type Conflict = S["ConflictOutput"];
export type Session = S["SessionOutput"];
export type TokenPair = S["TokenPairOutput"];
export type Revision = S["NoteRevisionSummaryOutput"];
export type RevisionDetail = S["NoteRevisionOutput"];
export type Problem = S["Problem"];
export type User = S["UserOutput"];
export type LibraryFile = S["FileOutput"];
export type LibraryFileFields = S["PatchedFileUpdateInputRequest"];
export type ViewerStateRow = S["ViewerStateSyncOutput"];
export type ViewerStateFields = S["ViewerStateInputRequest"];

/** The synced types this client keeps, and their shapes. */
export interface Synced {
  tasklist: TaskList;
  task: Task;
  note: Note;
  file: LibraryFile;
  viewer_state: ViewerStateRow;
}
export interface SyncedFields {
  tasklist: TaskListFields;
  task: TaskFields;
  note: NoteFields;
  file: LibraryFileFields;
  /** a whole position document (what PUT /v1/files/{id}/viewer-state takes), not a patch */
  viewer_state: ViewerStateFields;
}
export type SyncType = keyof Synced;
export const SYNC_TYPES: SyncType[] = ["tasklist", "task", "note", "file", "viewer_state"];
