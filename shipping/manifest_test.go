package shipping

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cardline/internal/testsupport"
)

func testBatch(t testing.TB) Batch {
	z := oslo(t)
	tromso := Address{Name: "Nord Bygg AS", Street: "Storgata 9", PostalCode: "9008", City: "TROMSØ", Country: "NO"}
	oslo0155 := Address{Name: "Bygg og Rør AS", Street: "Storgata 1", PostalCode: "0155", City: "OSLO", Country: "NO"}
	p, err := Plan([]OrderToShip{
		{OrderID: "A-3", Deadline: time.Date(2026, 11, 27, 0, 0, 0, 0, z), Address: tromso,
			Cards: []CardToShip{{Number: "1000000040", State: CardReady}}, Accessories: []Accessory{{SKU: "cardholder", Quantity: 1}}},
		{OrderID: "A-1", Deadline: time.Date(2026, 11, 27, 0, 0, 0, 0, z), Address: oslo0155,
			Cards:       []CardToShip{{Number: "1000000016", State: CardReady}, {Number: "1000000024", State: CardReady}},
			Accessories: []Accessory{{SKU: "cardholder", Quantity: 2}}},
		{OrderID: "A-2", Deadline: time.Date(2026, 11, 27, 0, 0, 0, 0, z), Address: oslo0155,
			Cards: []CardToShip{{Number: "1000000032", State: CardReady}}},
	}, time.Date(2026, 11, 23, 9, 0, 0, 0, z), testSchedule(t))
	if err != nil {
		t.Fatal(err)
	}
	return p.Batch
}

func TestManifestCSV(t *testing.T) {
	m := NewManifest(testBatch(t), testSender)
	if m.Letters != 4 || m.Parcels != 2 {
		t.Errorf("totals %d letters, %d parcels; want 4, 2", m.Letters, m.Parcels)
	}
	var buf bytes.Buffer
	if err := m.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := "postal_code,city,letters,parcels,envelope_ids,parcel_ids\n" +
		"0155,OSLO,3,1,E100000001601 E100000002401 E100000003201,P100000001601\n" +
		"9008,TROMSØ,1,1,E100000004001,P100000004001\n"
	if buf.String() != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestManifestPDF(t *testing.T) {
	qpdf := testsupport.Need(t, "qpdf")
	pdftotext := testsupport.Need(t, "pdftotext")
	m := NewManifest(testBatch(t), testSender)
	var buf bytes.Buffer
	if err := m.WritePDF(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "manifest.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	out, err := exec.Command(pdftotext, "-layout", path, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"Manifest B20261123-1500", "Henting: 23.11.2026 15:00", "Brev: 4", "Pakker: 2",
		"TROMSØ", "E100000001601", "E100000002401", "E100000003201", "E100000004001", "P100000004001 (pakke)",
		"Mottatt av Posten"} {
		if !strings.Contains(text, want) {
			t.Errorf("manifest text lacks %q:\n%s", want, text)
		}
	}
	row := func(code string) string {
		for _, l := range strings.Split(text, "\n") {
			if f := strings.Fields(l); len(f) == 4 && f[0] == code {
				return strings.Join(f, " ")
			}
		}
		return ""
	}
	if got := row("0155"); got != "0155 OSLO 3 1" {
		t.Errorf("table row for 0155 = %q, want 0155 OSLO 3 1\n%s", got, text)
	}
}

// TestManifestPDFPages: a manifest longer than a page breaks onto more, each page's footer
// counting them all ("side 2 av 3"), and no id is lost at a break.
func TestManifestPDFPages(t *testing.T) {
	pdftotext := testsupport.Need(t, "pdftotext")
	pdfinfo := testsupport.Need(t, "pdfinfo")
	m := NewManifest(testBatch(t), testSender)
	var ids []string
	for i := range 300 {
		id, err := NewEnvelopeID("1234567897", 1+i%99)
		if err != nil {
			t.Fatal(err)
		}
		m.Lines[0].EnvelopeIDs = append(m.Lines[0].EnvelopeIDs, id)
		ids = append(ids, string(id))
	}
	var buf bytes.Buffer
	if err := m.WritePDF(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "manifest.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command(pdfinfo, path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	for _, l := range strings.Split(string(info), "\n") {
		if n, ok := strings.CutPrefix(l, "Pages:"); ok {
			pages, _ = strconv.Atoi(strings.TrimSpace(n))
		}
	}
	if pages < 2 {
		t.Fatalf("%d pages for 300 more ids, want a break:\n%s", pages, info)
	}
	var all strings.Builder
	for p := 1; p <= pages; p++ {
		out, err := exec.Command(pdftotext, "-f", strconv.Itoa(p), "-l", strconv.Itoa(p), path, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("Manifest %s — side %d av %d", m.Batch, p, pages); !strings.Contains(string(out), want) {
			t.Errorf("page %d lacks its footer %q", p, want)
		}
		all.Write(out)
	}
	text := all.String()
	for _, id := range append(ids, "Mottatt av Posten") {
		if want := strings.Count(strings.Join(append(ids, "Mottatt av Posten"), " "), id); strings.Count(text, id) < want {
			t.Errorf("%q appears %d times, want at least %d", id, strings.Count(text, id), want)
		}
	}
}
