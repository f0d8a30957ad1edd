package printer

import (
	"image"
	"image/color"
	"time"
)

// SampleFace returns a made-up but valid card face with a portrait drawn in code, for previews,
// tests and the demo. The same call gives the same face.
func SampleFace(t CardType) *Face {
	return &Face{
		CardType:   t,
		GivenName:  "Øyvind Åsmund",
		FamilyName: "Ødegård-Åsheim",
		BirthDate:  time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC),
		Expiry:     time.Date(2028, 11, 23, 0, 0, 0, 0, time.UTC),
		OrgNumber:  "923609016",
		OrgName:    "Bygg og Rør AS",
		CardNumber: "1000000017",
		Photo:      SamplePortrait(600, 800),
	}
}

// SamplePortrait draws a w × h head-and-shoulders silhouette on a light background: enough like a
// photo to judge cropping and scaling, with no real person in it.
func SamplePortrait(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy := float64(w)/2, float64(h)*0.4
	rx, ry := float64(w)*0.22, float64(h)*0.2
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x), float64(y)
			// light background with a soft vertical gradient
			c := color.RGBA{uint8(215 - 30*y/h), uint8(225 - 30*y/h), 235, 0xff}
			dx, dy := (fx-cx)/rx, (fy-cy)/ry
			switch {
			case dx*dx+dy*dy <= 1: // head
				c = color.RGBA{0xd9, 0xa6, 0x84, 0xff}
				if dy < -0.55 { // hair
					c = color.RGBA{0x4a, 0x33, 0x22, 0xff}
				}
			case fy > cy+ry*0.9 && (fx-cx)*(fx-cx)/(float64(w)*float64(w)*0.16)+(fy-float64(h))*(fy-float64(h))/(float64(h)*float64(h)*0.16) <= 1: // shoulders
				c = color.RGBA{0x2b, 0x4a, 0x7a, 0xff}
			}
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
		}
	}
	return img
}
