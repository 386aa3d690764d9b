// TypeScript types from the served OpenAPI schema, with openapi-typescript's documented setting
// for file uploads: `format: binary` is a Blob (the default types it as a string).
// Usage: node generate.mjs <openapi.json> <out.d.ts>
import fs from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const [input, output] = process.argv.slice(2);
const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));
const NULL = ts.factory.createLiteralTypeNode(ts.factory.createNull());

const ast = await openapiTS(JSON.parse(fs.readFileSync(input, "utf8")), {
  transform(schemaObject) {
    if (schemaObject.format === "binary") {
      return schemaObject.nullable ? ts.factory.createUnionTypeNode([BLOB, NULL]) : BLOB;
    }
    return undefined;
  },
});
fs.mkdirSync(new URL(".", `file://${output}`), { recursive: true });
fs.writeFileSync(output, astToString(ast));
