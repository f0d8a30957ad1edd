package temporary

import (
	"context"
	"fmt"
	"io"
	"net/mail"
	"testing"
	"time"

	"cardline/internal/testsupport"
)

// BenchmarkPDF renders one temporary card page with photo and QR code.
func BenchmarkPDF(b *testing.B) {
	c := sampleCard(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := WritePDF(io.Discard, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMailTenCards is one order's mail with 10 temporary cards: rendered, composed and
// delivered to Mailpit over SMTP (send only: the PDFs are made once).
func BenchmarkMailTenCards(b *testing.B) {
	mp := testsupport.Mailpit(b)
	s, err := NewSMTP(SMTPConfig{Addr: mp.SMTPAddr, StartTLS: StartTLSOff, Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	cards, pdfs := tenCards(b)
	from := mail.Address{Name: "HMS-kort", Address: "hms-kort@cardline.example"}
	o := Order{ID: "A-2026-0001234", OrdererName: "Kari Nordmann", OrdererEmail: "kari@bygg.example", CompanyName: "Bygg og Rør AS", OrgNumber: "923609016"}
	size := 0
	for _, p := range pdfs {
		size += len(p)
	}
	i := 0
	for b.Loop() {
		i++
		m := Compose(from, fmt.Sprintf("bench.%d@cardline.example", i), o, cards, pdfs, false, time.Now())
		if err := s.Send(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB-of-PDF/mail") // after the loop, which resets metrics
}

// BenchmarkRenderTenCards is the rendering half of a 10-card mail.
func BenchmarkRenderTenCards(b *testing.B) {
	for b.Loop() {
		tenCards(b)
	}
}

func tenCards(b *testing.B) ([]*Card, [][]byte) {
	b.Helper()
	var cards []*Card
	var pdfs [][]byte
	base := sampleCard(b)
	for i := range 10 {
		c := *base
		c.CardNumber = fmt.Sprintf("10000000%02d", i)
		p, err := RenderPDF(&c)
		if err != nil {
			b.Fatal(err)
		}
		cards, pdfs = append(cards, &c), append(pdfs, p)
	}
	return cards, pdfs
}
