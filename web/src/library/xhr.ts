// One HTTP request through XMLHttpRequest, for the one thing fetch() cannot do yet: report upload
// progress (a progress bar while a book goes up). Everything else goes through openapi-fetch.
export class RequestAborted extends Error {
  constructor() {
    super("aborted");
    this.name = "AbortError";
  }
}

export interface Answer {
  status: number;
  text: string;
  contentType: string;
}

export function xhrSend(
  method: string,
  url: string,
  body: XMLHttpRequestBodyInit,
  opts: { headers?: Record<string, string>; onProgress?: (loaded: number) => void; signal?: AbortSignal } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new RequestAborted());
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(opts.headers ?? {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => opts.onProgress?.(e.loaded);
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText, contentType: xhr.getResponseHeader("Content-Type") ?? "" });
    // As fetch() does: no answer at all is a TypeError (isNetworkError), so offline reads as offline.
    xhr.onerror = () => reject(new TypeError(`network error: ${method} ${url.split("?")[0]}`));
    xhr.onabort = () => reject(new RequestAborted());
    const abort = () => xhr.abort();
    opts.signal?.addEventListener("abort", abort, { once: true });
    xhr.onloadend = () => opts.signal?.removeEventListener("abort", abort);
    xhr.send(body);
  });
}
