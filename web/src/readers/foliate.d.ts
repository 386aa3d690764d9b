// foliate-js ships plain ES modules without types; the reader names what it uses (EpubReader.tsx).
declare module "foliate-js/view.js";
