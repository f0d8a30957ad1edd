package production

import (
	"image"

	"golang.org/x/image/draw"
)

// shrinkForStorage scales a photo taller than storedPhotoMaxHeight down to that height, keeping its
// aspect. Smaller photos are kept at their size.
func shrinkForStorage(img image.Image) image.Image {
	b := img.Bounds()
	if b.Dy() <= storedPhotoMaxHeight {
		return img
	}
	w := b.Dx() * storedPhotoMaxHeight / b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, storedPhotoMaxHeight))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}
