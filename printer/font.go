package printer

import (
	"fmt"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
)

// The card faces are set in the Go fonts (Bigelow & Holmes, BSD licence: FONT-LICENSE in this
// directory must travel with any binary that embeds them). They are compiled into the binary, so
// a card renders the same on every machine, and they cover Latin-1, Latin Extended-A, Greek and
// Cyrillic: every letter of a European name.

// fonts holds the parsed fonts and the faces made from them. Faces are not safe for concurrent
// use, so a fonts value belongs to one Renderer and is used under its lock.
type fonts struct {
	regular, bold *opentype.Font
	faces         map[faceKey]font.Face
}

type faceKey struct {
	bold bool
	px   int
}

func loadFonts() (*fonts, error) {
	reg, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go regular font: %w", err)
	}
	bold, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return nil, fmt.Errorf("parse Go bold font: %w", err)
	}
	return &fonts{regular: reg, bold: bold, faces: map[faceKey]font.Face{}}, nil
}

// face returns the face of the given pixel size (the em size at 300 dpi). Hinting is off so that
// text measures the same at every size and the fitting loop is monotonic.
func (f *fonts) face(bold bool, px int) font.Face {
	k := faceKey{bold, px}
	if fc, ok := f.faces[k]; ok {
		return fc
	}
	src := f.regular
	if bold {
		src = f.bold
	}
	fc, err := opentype.NewFace(src, &opentype.FaceOptions{Size: float64(px), DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		// Only a size the font cannot scale to fails; sizes here are fixed small integers.
		panic(fmt.Sprintf("printer: make %d px face: %v", px, err))
	}
	f.faces[k] = fc
	return fc
}
