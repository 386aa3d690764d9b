// The file's bytes from the API, until web/src/library/content.ts (the lead's `fileBlob`, which
// follows the 302 to S3 with the CORS rule in place) is merged; same signature, replaced then.
import type { Api } from "../api/client";

export async function fileBlob(api: Api, fileId: string): Promise<Blob> {
  const { data, response } = await api.GET("/v1/files/{file_id}/content", {
    params: { path: { file_id: fileId } },
    parseAs: "blob",
  });
  if (!data) throw new Error(`the file's bytes were refused (${response.status})`);
  return data as Blob;
}
