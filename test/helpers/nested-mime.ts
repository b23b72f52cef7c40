// Pathological MIME the sink must store and survive.

/** A multipart nested `depth` deep; at 1,000 mailparser refuses it ("Max allowed child nodes exceeded"). */
export function deeplyNested(depth = 1000, subject = "nested too deep"): string {
  let s = `Subject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n`;
  for (let i = 0; i < depth; i++) s += `--b${i}\r\nContent-Type: multipart/mixed; boundary=b${i + 1}\r\n\r\n`;
  s += `--b${depth}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n`;
  for (let i = depth; i >= 0; i--) s += `--b${i}--\r\n`;
  return s;
}
