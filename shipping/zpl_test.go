package shipping

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestZPLStructure checks the ZPL as a printer would parse it: one ^XA … ^XZ format per label
// with ^CI28, every command inside the 4 × 6 in field, the id as Code 128 data, each address field
// printed whole across its lines, and ZPL's command characters escaped in the data.
func TestZPLStructure(t *testing.T) {
	l := newTestLabeler(t)
	tricky := sampleLabels()[0]
	tricky.ID = "E123456789702"
	tricky.To.Attention = "Avd. ^XZ ~JA 100_%"
	labels := append(sampleLabels(), worstLabel(), tricky)
	var buf bytes.Buffer
	if err := l.WriteZPL(&buf, labels); err != nil {
		t.Fatal(err)
	}
	formats := regexp.MustCompile(`(?s)\^XA\n(.*?)\^XZ\n`).FindAllStringSubmatch(buf.String(), -1)
	if len(formats) != len(labels) || strings.Count(buf.String(), "^XA") != len(labels) {
		t.Fatalf("%d ^XA…^XZ formats (%d ^XA), want %d:\n%s", len(formats), strings.Count(buf.String(), "^XA"), len(labels), buf.String())
	}
	fo := regexp.MustCompile(`\^FO(\d+),(\d+)`)
	fd := regexp.MustCompile(`\^FD(.*?)\^FS`)
	unescape := strings.NewReplacer("_5F", "_", "_5E", "^", "_7E", "~")
	for i, f := range formats {
		body := f[1]
		lb := labels[i]
		for _, cmd := range []string{"^CI28\n", "^PW812\n", "^LL1218\n", "^PQ1\n", "^BCN,"} {
			if !strings.Contains(body, cmd) {
				t.Errorf("label %d lacks %q", i, cmd)
			}
		}
		for _, m := range fo.FindAllStringSubmatch(body, -1) {
			x, _ := strconv.Atoi(m[1])
			y, _ := strconv.Atoi(m[2])
			if x < 0 || x >= 812 || y < 0 || y >= 1218 {
				t.Errorf("label %d: %s outside the label", i, m[0])
			}
		}
		var data []string
		for _, m := range fd.FindAllStringSubmatch(body, -1) {
			if strings.ContainsAny(m[1], "^~") {
				t.Errorf("label %d: unescaped command character in field data %q", i, m[1])
			}
			data = append(data, unescape.Replace(m[1]))
		}
		if !regexp.MustCompile(`\^BCN,\d+,N,N,N,A\^FD` + lb.ID + `\^FS`).MatchString(body) {
			t.Errorf("label %d: no Code 128 of %s", i, lb.ID)
		}
		text := strings.Join(data, " ")
		for _, want := range []string{lb.To.Name, "Att: " + lb.To.Attention, lb.To.Street, lb.To.PostalCode + " " + lb.To.City, "NORGE", "P.P.", lb.Content} {
			if !strings.Contains(text, want) {
				t.Errorf("label %d: field text lacks %q:\n%s", i, want, text)
			}
		}
		if !strings.Contains(strings.ReplaceAll(text, " ", ""), "Ordre"+lb.OrderID) {
			t.Errorf("label %d lacks the order id %s", i, lb.OrderID)
		}
	}
}

func TestZPLFont(t *testing.T) {
	l, err := NewLabeler(LabelConfig{Sender: testSender, ZPLFont: "E:TT0003M_.TTF"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.WriteZPL(&buf, sampleLabels()); err != nil {
		t.Fatal(err)
	}
	z := buf.String()
	if strings.Contains(z, "^A0") || strings.Count(z, "^A@N,") != strings.Count(z, "^FH_^FD") || !strings.Contains(z, "^A@N,39,39,E:TT0003M_.TTF^FH_^FDBygg og Rør") {
		t.Errorf("text not set in the configured font:\n%s", z)
	}
	for _, bad := range []string{"TT0003M_.TTF", "E:TT0003M_.TTF^XZ", "E:tt0003m_.ttf", "E:.TTF", "E:A.OTF"} {
		if _, err := NewLabeler(LabelConfig{Sender: testSender, ZPLFont: bad}); err == nil {
			t.Errorf("ZPL font %q accepted", bad)
		}
	}
}
