package printer

import (
	"math"
	"testing"
)

func TestChooseMedia(t *testing.T) {
	for _, c := range []struct {
		want             MediaSize
		ready, supported []string
		got              string
	}{
		{CR80, nil, []string{"na_letter_8.5x11in", "om_cr80_53.98x85.6mm"}, "om_cr80_53.98x85.6mm"},
		{CR80, []string{"custom_85.6x53.98mm_85.6x53.98mm"}, []string{"om_cr80_53.98x85.6mm"}, "custom_85.6x53.98mm_85.6x53.98mm"}, // loaded first, either way round
		{CR80, nil, []string{"om_card_54x86mm"}, "om_card_54x86mm"},                                                                // within half a millimetre
		{Label4x6, []string{"iso_a4_210x297mm"}, []string{"na_index-4x6_4x6in"}, "na_index-4x6_4x6in"},
		{CR80, []string{"iso_a4_210x297mm"}, []string{"na_index-4x6_4x6in", "cr80", "om_x_55x86mm"}, ""},
	} {
		got, err := ChooseMedia(c.want, c.ready, c.supported)
		if got != c.got || (err != nil) != (c.got == "") {
			t.Errorf("ChooseMedia(%v, %q, %q) = %q, %v; want %q", c.want, c.ready, c.supported, got, err, c.got)
		}
	}
}

// FuzzParseMediaSize: printers send whatever media names they like.
func FuzzParseMediaSize(f *testing.F) {
	for _, s := range []string{"om_cr80_53.98x85.6mm", "na_index-4x6_4x6in", "x_1e308x1e308in", "a_NaNxNaNmm", "_x", "a_-1x2mm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := ParseMediaSize(s)
		if ok && (!(m.W > 0) || !(m.H > 0) || math.IsInf(m.W, 0) || math.IsInf(m.H, 0)) {
			t.Fatalf("ParseMediaSize(%q) = %v", s, m)
		}
	})
}
