package pdf

import (
	"encoding/binary"
	"fmt"
)

// An Image is a JPEG to be embedded as it is (DCTDecode): its bytes are never decoded, only its
// frame header is read for size and colour space.
type Image struct {
	data          []byte
	Width, Height int // pixels
	components    int // 1 grey, 3 RGB (YCbCr), 4 CMYK
	adobe         bool
}

// ParseJPEG reads the frame header of a baseline or progressive JPEG.
func ParseJPEG(data []byte) (*Image, error) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, fmt.Errorf("read JPEG: no start-of-image marker")
	}
	img := &Image{data: data}
	for i := 2; ; {
		for i < len(data) && data[i] == 0xFF && i+1 < len(data) && data[i+1] == 0xFF {
			i++ // fill bytes
		}
		if i+4 > len(data) || data[i] != 0xFF {
			return nil, fmt.Errorf("read JPEG: no frame header before byte %d", i)
		}
		marker := data[i+1]
		if marker == 0x01 || marker >= 0xD0 && marker <= 0xD7 { // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		seg := data[i+4 : min(len(data), i+2+n)]
		switch {
		case marker == 0xDA || marker == 0xD9:
			return nil, fmt.Errorf("read JPEG: no frame header before the scan")
		case marker == 0xEE && len(seg) >= 5 && string(seg[:5]) == "Adobe":
			img.adobe = true
		case marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
			if len(seg) < 6 {
				return nil, fmt.Errorf("read JPEG: short frame header")
			}
			if seg[0] != 8 {
				return nil, fmt.Errorf("read JPEG: %d bits per sample, want 8", seg[0])
			}
			img.Height, img.Width = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
			img.components = int(seg[5])
			if img.components != 1 && img.components != 3 && img.components != 4 {
				return nil, fmt.Errorf("read JPEG: %d colour components", img.components)
			}
			if img.Width == 0 || img.Height == 0 {
				return nil, fmt.Errorf("read JPEG: size %d×%d", img.Width, img.Height)
			}
			// Keep looking for an Adobe marker only if it matters: it comes before the frame.
			return img, nil
		}
		i += 2 + n
	}
}

func (img *Image) colourSpace() string {
	switch img.components {
	case 1:
		return "/DeviceGray"
	case 4:
		if img.adobe { // Adobe's CMYK JPEGs store the inks inverted
			return "/DeviceCMYK /Decode [1 0 1 0 1 0 1 0]"
		}
		return "/DeviceCMYK"
	}
	return "/DeviceRGB"
}
