// Package pdf writes PDF documents (ISO 32000-1) of text, vector shapes and JPEG images: what a
// form, a temporary card or a run of shipping labels needs, and nothing else, so that a page costs
// little. A long document is written page by page as it is drawn, in memory bounded by one page.
//
// TrueType fonts are embedded as subsets in Type 0 fonts with Identity-H encoding (text is written
// as glyph ids, any Unicode character the font has prints) and a ToUnicode map (the text
// extracts). A Font is parsed once per process and shared; a Document only looks up glyphs, copies
// the outlines it used and writes bytes. JPEGs pass through undecoded (DCTDecode). Nothing is
// compressed but the font's own glyph data: deflate would cost more than the page.
package pdf
