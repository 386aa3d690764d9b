// A library file's bytes, for the readers and for downloads. GET /v1/files/{id}/content answers
// with the bytes (local storage: this origin) or a 302 to a short-lived presigned S3 URL, which
// fetch follows: the page's CSP `connect-src` names S3's origin and the bucket's CORS rule admits
// this page (docs/operations.md, "S3 and the browser"). The bearer token only ever reaches our
// API: a browser drops Authorization on a cross-origin redirect, and the presigned URL carries
// its own signature.
import type { Api } from "../api/client";
import type { Problem } from "../api/types";

export class ContentError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> | undefined,
  ) {
    super(problem?.detail ?? `the file could not be read (${status})`);
  }
}

export async function fileBlob(api: Api, fileId: string): Promise<Blob> {
  const { data, error, response } = await api.GET("/v1/files/{file_id}/content", {
    params: { path: { file_id: fileId } },
    parseAs: "blob",
  });
  if (!data) throw new ContentError(response.status, error as Partial<Problem> | undefined);
  return data;
}
