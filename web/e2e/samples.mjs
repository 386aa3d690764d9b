// Files for the e2e, made at run time (no binaries in the repository): a PDF with a title, an
// author and a drawn first page (its cover), of any size; an EPUB with a title, authors, a table
// of contents and a cover image; a PNG. Each call gives different bytes (a random id inside), so
// a run never meets "you already have this file" from an earlier one.
import crypto from "node:crypto";
import zlib from "node:zlib";

/** A PDF of about `size` bytes at least (random padding in an unused stream object). */
export function pdf({ title, author, size = 0, pages = 2 }) {
  const objects = [];
  const add = (body) => objects.push(body) && objects.length;
  const catalog = add("<< /Type /Catalog /Pages 2 0 R >>");
  add(""); // the page tree, once the pages are known
  const font = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  const kids = [];
  for (let i = 1; i <= pages; i++) {
    const draw = i === 1
      ? `0.12 0.37 0.68 rg 0 0 200 300 re f 1 1 1 rg BT /F1 18 Tf 20 200 Td (${title.replace(/[()\\]/g, "")}) Tj ET`
      : `BT /F1 12 Tf 20 260 Td (Page ${i}) Tj ET`;
    const content = add(`<< /Length ${draw.length} >>\nstream\n${draw}\nendstream`);
    kids.push(add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 300] /Contents ${content} 0 R /Resources << /Font << /F1 ${font} 0 R >> >> >>`));
  }
  objects[1] = `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(" ")}] /Count ${kids.length} >>`;
  const info = add(`<< /Title (${title}) /Author (${author}) /Subject (${crypto.randomUUID()}) >>`);
  const chunks = [Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "latin1")];
  let length = chunks[0].length;
  const offsets = [];
  const push = (buffer) => {
    chunks.push(buffer);
    length += buffer.length;
  };
  objects.forEach((body, i) => {
    offsets.push(length);
    push(Buffer.from(`${i + 1} 0 obj\n${body}\nendobj\n`, "latin1"));
  });
  if (size > length) {
    const pad = crypto.randomBytes(size - length);
    offsets.push(length);
    push(Buffer.concat([Buffer.from(`${objects.length + 1} 0 obj\n<< /Length ${pad.length} >>\nstream\n`, "latin1"), pad, Buffer.from("\nendstream\nendobj\n", "latin1")]));
  }
  const xref = length;
  const count = offsets.length + 1;
  push(Buffer.from(`xref\n0 ${count}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`, "latin1"));
  push(Buffer.from(`trailer\n<< /Size ${count} /Root ${catalog} 0 R /Info ${info} 0 R >>\nstartxref\n${xref}\n%%EOF\n`, "latin1"));
  return Buffer.concat(chunks);
}

/** A small PNG: a coloured block with a band across it. */
export function png(width = 60, height = 90, rgb = [31, 95, 174]) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const band = y > height * 0.4 && y < height * 0.55;
      row.set(band ? [255, 255, 255] : rgb, 1 + x * 3);
    }
    rows.push(row);
  }
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])));
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A zip of stored (uncompressed) entries, in order: EPUB wants `mimetype` first and stored. */
function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, "utf8");
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

export function epub({ title, authors, chapters = 3 }) {
  const files = Array.from({ length: chapters }, (_, i) => `text/ch${i + 1}.xhtml`);
  const opf = `<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="bookid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="bookid">urn:uuid:${crypto.randomUUID()}</dc:identifier>
    <dc:title>${title}</dc:title>${authors.map((a) => `<dc:creator>${a}</dc:creator>`).join("")}<dc:language>en</dc:language>
    <meta property="dcterms:modified">2026-01-01T00:00:00Z</meta>
  </metadata>
  <manifest>
    ${files.map((href, i) => `<item id="ch${i + 1}" href="${href}" media-type="application/xhtml+xml"/>`).join("\n    ")}
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="cover" href="images/cover.png" media-type="image/png" properties="cover-image"/>
  </manifest>
  <spine>${files.map((_, i) => `<itemref idref="ch${i + 1}"/>`).join("")}</spine>
</package>`;
  const xhtml = (head, body) => `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head><title>${head}</title></head><body>${body}</body></html>`;
  const nav = xhtml("Contents", `<nav epub:type="toc"><h1>Contents</h1><ol>${files.map((href, i) => `<li><a href="${href}">Chapter ${i + 1}</a></li>`).join("")}</ol></nav>`);
  const container = `<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>`;
  const text = (s) => Buffer.from(s, "utf8");
  return zip([
    ["mimetype", text("application/epub+zip")],
    ["META-INF/container.xml", text(container)],
    ["OEBPS/content.opf", text(opf)],
    ["OEBPS/nav.xhtml", text(nav)],
    ...files.map((href, i) => [`OEBPS/${href}`, text(xhtml(`Chapter ${i + 1}`, `<h1>Chapter ${i + 1}</h1>${`<p>Words of chapter ${i + 1}, read on any device.</p>`.repeat(20)}`))]),
    ["OEBPS/images/cover.png", png(60, 90, [174, 60, 31])],
  ]);
}
