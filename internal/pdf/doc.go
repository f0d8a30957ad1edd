// Package pdf writes one-page PDF documents (ISO 32000-1) of text, vector shapes and JPEG images:
// what a form or a temporary card needs, and nothing else, so that a page costs little.
//
// TrueType fonts are embedded whole as Type 0 fonts with Identity-H encoding (text is written as
// glyph ids, any Unicode character the font has prints) and a ToUnicode map (the text extracts).
// A Font is parsed and compressed once per process and shared; a Document only looks up glyphs
// and writes bytes. JPEGs pass through undecoded (DCTDecode).
package pdf
