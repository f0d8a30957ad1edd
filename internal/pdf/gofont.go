package pdf

import (
	"fmt"
	"sync"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// GoFonts returns the Go fonts' regular and bold faces (the faces of the plastic card, see
// printer/font.go) parsed for embedding, once per process: parsing is the expensive part of a
// font, and the result is immutable, so every document of every stage shares it.
func GoFonts() (regular, bold *Font, err error) {
	f, err := goFonts()
	return f[0], f[1], err
}

var goFonts = sync.OnceValues(func() ([2]*Font, error) {
	regular, err := ParseTrueType(goregular.TTF)
	if err != nil {
		return [2]*Font{}, fmt.Errorf("parse Go Regular: %w", err)
	}
	bold, err := ParseTrueType(gobold.TTF)
	if err != nil {
		return [2]*Font{}, fmt.Errorf("parse Go Bold: %w", err)
	}
	return [2]*Font{regular, bold}, nil
})
