package printer

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MediaSize is a sheet size in millimetres, either way round.
type MediaSize struct{ W, H float64 }

// The media the line prints on.
var (
	// CR80 is the ID-1 card: 53.98 × 85.60 mm. PWG has no standard keyword for it; card printers
	// report a vendor one such as om_cr80_53.98x85.6mm, which is why media is chosen by size.
	CR80 = MediaSize{53.98, 85.60}
	// Label4x6 is the 4 × 6 inch shipping label (na_index-4x6_4x6in).
	Label4x6 = MediaSize{101.6, 152.4}
)

// ParseMediaSize reads the size from a PWG 5101.1 self-describing media name
// (class_name_WxHunit, e.g. om_cr80_53.98x85.6mm or na_index-4x6_4x6in).
func ParseMediaSize(keyword string) (MediaSize, bool) {
	i := strings.LastIndexByte(keyword, '_')
	if i < 0 {
		return MediaSize{}, false
	}
	dims := keyword[i+1:]
	scale := 0.0
	switch {
	case strings.HasSuffix(dims, "mm"):
		scale, dims = 1, strings.TrimSuffix(dims, "mm")
	case strings.HasSuffix(dims, "in"):
		scale, dims = 25.4, strings.TrimSuffix(dims, "in")
	default:
		return MediaSize{}, false
	}
	ws, hs, ok := strings.Cut(dims, "x")
	if !ok {
		return MediaSize{}, false
	}
	w, err1 := strconv.ParseFloat(ws, 64)
	h, err2 := strconv.ParseFloat(hs, 64)
	w, h = w*scale, h*scale
	if err1 != nil || err2 != nil || !(w > 0) || !(h > 0) || math.IsInf(w, 0) || math.IsInf(h, 0) {
		return MediaSize{}, false
	}
	return MediaSize{w, h}, true
}

// matches reports whether s is within half a millimetre of m, either way round.
func (m MediaSize) matches(s MediaSize) bool {
	near := func(a, b float64) bool { return math.Abs(a-b) <= 0.5 }
	return (near(m.W, s.W) && near(m.H, s.H)) || (near(m.W, s.H) && near(m.H, s.W))
}

// ChooseMedia picks the media keyword of the wanted size from what the printer reports: one that
// is loaded (media-ready) first, else one it supports. A printer that knows no such size cannot
// print the job.
func ChooseMedia(want MediaSize, ready, supported []string) (string, error) {
	for _, list := range [][]string{ready, supported} {
		for _, kw := range list {
			if s, ok := ParseMediaSize(kw); ok && want.matches(s) {
				return kw, nil
			}
		}
	}
	return "", fmt.Errorf("choose media: no %.2f×%.2f mm media among ready %q or supported %q", want.W, want.H, ready, supported)
}
