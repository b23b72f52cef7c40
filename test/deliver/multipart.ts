// Reads a multipart/form-data body the way most Node webhook handlers do:
// with busboy (what multer runs on), UTF-8 parameter names as browsers and
// providers send them.
import busboy from "busboy";
import type { IncomingHttpHeaders } from "node:http";

export interface FormFile {
  field: string;
  filename: string;
  mimeType: string;
  content: Buffer;
}

export interface ParsedForm {
  fields: Record<string, string>;
  files: FormFile[];
}

export function parseMultipart(headers: IncomingHttpHeaders, body: Buffer): Promise<ParsedForm> {
  return new Promise((resolve, reject) => {
    const form: ParsedForm = { fields: {}, files: [] };
    const bb = busboy({ headers, defParamCharset: "utf8", limits: { fieldSize: 50 * 1024 * 1024 } });
    bb.on("field", (name, value) => (form.fields[name] = value));
    bb.on("file", (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () =>
        form.files.push({
          field,
          filename: info.filename ?? "",
          mimeType: info.mimeType,
          content: Buffer.concat(chunks),
        }),
      );
    });
    bb.on("close", () => resolve(form));
    bb.on("error", reject);
    bb.end(body);
  });
}
