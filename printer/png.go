package printer

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
)

// EncodePNG writes an opaque face as an 8-bit RGB PNG that records its 300 dpi in a pHYs chunk,
// so a viewer or printer that honours it reproduces the card at its true size.
//
// It is faster than image/png (which also drops the resolution): each row is Sub-filtered, which
// turns the card's flat areas into runs of zeros, and compressed with Huffman coding only. The
// runs then cost about one bit per byte and the encoder never searches for matches; a card face
// encodes in a few milliseconds to a few hundred kilobytes. Alpha is dropped.
func EncodePNG(w io.Writer, img *image.RGBA) error {
	b := img.Bounds()
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString("\x89PNG\r\n\x1a\n"); err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	var hdr [13]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(b.Dx()))
	binary.BigEndian.PutUint32(hdr[4:], uint32(b.Dy()))
	hdr[8], hdr[9] = 8, 2 // 8 bits per sample, truecolour
	if err := writeChunk(bw, "IHDR", hdr[:]); err != nil {
		return err
	}
	var phys [9]byte
	ppm := uint32((DPI*10000 + 127) / 254) // pixels per metre: 11811 at 300 dpi
	binary.BigEndian.PutUint32(phys[0:], ppm)
	binary.BigEndian.PutUint32(phys[4:], ppm)
	phys[8] = 1 // unit: metre
	if err := writeChunk(bw, "pHYs", phys[:]); err != nil {
		return err
	}

	var idat bytes.Buffer
	idat.Grow(b.Dx() * b.Dy() / 2)
	zw, err := zlib.NewWriterLevel(&idat, flate.HuffmanOnly)
	if err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	row := make([]byte, 1+3*b.Dx())
	row[0] = 1 // filter: Sub
	for y := b.Min.Y; y < b.Max.Y; y++ {
		src := img.Pix[img.PixOffset(b.Min.X, y):]
		var pr, pg, pb byte
		for x, o := 0, 1; x < b.Dx(); x, o = x+1, o+3 {
			r, g, bl := src[4*x], src[4*x+1], src[4*x+2]
			row[o], row[o+1], row[o+2] = r-pr, g-pg, bl-pb
			pr, pg, pb = r, g, bl
		}
		if _, err := zw.Write(row); err != nil {
			return fmt.Errorf("encode PNG: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	if err := writeChunk(bw, "IDAT", idat.Bytes()); err != nil {
		return err
	}
	if err := writeChunk(bw, "IEND", nil); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	return nil
}

func writeChunk(w io.Writer, typ string, data []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	for _, p := range [][]byte{n[:], []byte(typ), data, sum[:]} {
		if _, err := w.Write(p); err != nil {
			return fmt.Errorf("encode PNG: write %s chunk: %w", typ, err)
		}
	}
	return nil
}

// DecodePhoto decodes a stored photo (JPEG or PNG bytes, as the card store keeps them) for
// Face.Photo.
func DecodePhoto(data []byte) (image.Image, error) {
	var img image.Image
	var err error
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8")):
		img, err = jpeg.Decode(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("\x89PNG")):
		img, err = png.Decode(bytes.NewReader(data))
	default:
		return nil, fmt.Errorf("decode photo: neither JPEG nor PNG")
	}
	if err != nil {
		return nil, fmt.Errorf("decode photo: %w", err)
	}
	return img, nil
}
