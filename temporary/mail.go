package temporary

import (
	"fmt"
	"html"
	"net/mail"
	"strings"
	"time"
)

// A Mail is the orderer's receipt for one order: Norwegian then English, as plain text and HTML, the
// order number, the list of cards, and one PDF temporary card per card. MessageID is fixed when the
// job is recorded, so every attempt to send the same mail carries the same Message-ID and a repeat
// is recognisable as the same mail by the recipient's mail system.
type Mail struct {
	MessageID   string // without angle brackets
	From        mail.Address
	To          mail.Address
	Subject     string
	Date        time.Time
	OrderID     string
	Text        string
	HTML        string
	Attachments []Attachment
}

// An Attachment is one file of a mail.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Order is what the mail says about the order, from the order's record.
type Order struct {
	ID           string
	OrdererName  string
	OrdererEmail string
	CompanyName  string
	OrgNumber    string
	DispatchBy   time.Time // zero if unknown
}

// Compose writes the mail for an order from its cards and their PDFs (pdfs[i] is cards[i]'s).
// resend marks a mail an operator asked to send again.
func Compose(from mail.Address, messageID string, o Order, cards []*Card, pdfs [][]byte, resend bool, now time.Time) *Mail {
	m := &Mail{
		MessageID: messageID,
		From:      from,
		To:        mail.Address{Name: o.OrdererName, Address: o.OrdererEmail},
		Subject:   "Midlertidig HMS-kort / Temporary HSE card – bestilling/order " + o.ID,
		Date:      now,
		OrderID:   o.ID,
	}
	for i, c := range cards {
		m.Attachments = append(m.Attachments, Attachment{Name: c.FileName(), ContentType: "application/pdf", Data: pdfs[i]})
	}

	dispatchNB, dispatchEN := "Kortene sendes innen fire virkedager.", "The cards will be sent within four business days."
	if !o.DispatchBy.IsZero() {
		dispatchNB = "Kortene sendes senest " + date(o.DispatchBy) + "."
		dispatchEN = "The cards will be sent by " + date(o.DispatchBy) + " at the latest."
	}
	resendNB, resendEN := "", ""
	if resend {
		resendNB, resendEN = "Dette er en ny kopi, sendt på forespørsel. ", "This is a new copy, sent on request. "
	}
	nb := []string{
		"Hei " + o.OrdererName + ",",
		"",
		resendNB + fmt.Sprintf("Bestillingen %s av HMS-kort for %s (org.nr. %s) er mottatt og satt i produksjon. %s",
			o.ID, o.CompanyName, orgNumber(o.OrgNumber), dispatchNB),
		"",
		"Vedlagt er et midlertidig HMS-kort (PDF) for hvert kort. Det gjelder til det fysiske kortet er mottatt, og aldri etter datoen som står på det. " +
			"Skriv det ut eller vis det på telefonen, sammen med legitimasjon med bilde.",
	}
	en := []string{
		"Hello " + o.OrdererName + ",",
		"",
		resendEN + fmt.Sprintf("Order %s for HSE cards for %s (organisation number %s) has been received and is in production. %s",
			o.ID, o.CompanyName, orgNumber(o.OrgNumber), dispatchEN),
		"",
		"Attached is a temporary HSE card (PDF) for each card. It is valid until the physical card has been received, and never after the date on it. " +
			"Print it or show it on a phone, together with photo identification.",
	}

	var text strings.Builder
	for _, l := range nb {
		text.WriteString(l + "\n")
	}
	text.WriteString("\nKort i bestillingen / Cards in the order:\n")
	for _, c := range cards {
		fmt.Fprintf(&text, "  %s  %s  (%s; gyldig senest / valid at the latest %s)\n", c.CardNumber, c.FullName(), c.FileName(), date(c.ValidUntil))
	}
	text.WriteString("\n-- English --\n\n")
	for _, l := range en {
		text.WriteString(l + "\n")
	}
	text.WriteString("\nDenne e-posten er sendt automatisk. / This mail was sent automatically.\n")
	m.Text = text.String()

	var h strings.Builder
	h.WriteString(`<!DOCTYPE html><html lang="nb"><head><meta charset="utf-8"><title>` + html.EscapeString(m.Subject) + `</title></head>` +
		`<body style="font-family:sans-serif;line-height:1.4">`)
	para := func(lines []string, lang string) {
		fmt.Fprintf(&h, `<div lang="%s">`, lang)
		for _, l := range lines {
			if l != "" {
				h.WriteString("<p>" + html.EscapeString(l) + "</p>")
			}
		}
		h.WriteString("</div>")
	}
	para(nb, "nb")
	h.WriteString(`<table style="border-collapse:collapse"><thead><tr>` +
		`<th style="text-align:left;padding:4px 12px 4px 0">Kortnummer / Card number</th>` +
		`<th style="text-align:left;padding:4px 12px 4px 0">Navn / Name</th>` +
		`<th style="text-align:left;padding:4px 12px 4px 0">Vedlegg / Attachment</th>` +
		`<th style="text-align:left;padding:4px 0">Gyldig senest / Valid at the latest</th></tr></thead><tbody>`)
	for _, c := range cards {
		fmt.Fprintf(&h, `<tr><td style="padding:4px 12px 4px 0">%s</td><td style="padding:4px 12px 4px 0">%s</td>`+
			`<td style="padding:4px 12px 4px 0">%s</td><td style="padding:4px 0">%s</td></tr>`,
			html.EscapeString(c.CardNumber), html.EscapeString(c.FullName()), html.EscapeString(c.FileName()), date(c.ValidUntil))
	}
	h.WriteString(`</tbody></table><hr>`)
	para(en, "en")
	h.WriteString(`<p style="color:#5a5a5a">Denne e-posten er sendt automatisk. / This mail was sent automatically.</p></body></html>`)
	m.HTML = h.String()
	return m
}

// NewMessageID makes the Message-ID of a new mail job: unique (order, kind, a random token) and in
// the sender's domain, as RFC 5322 asks.
func NewMessageID(orderID, kind, token, fromAddress string) string {
	domain := "cardline.invalid"
	if at := strings.LastIndexByte(fromAddress, '@'); at >= 0 && at+1 < len(fromAddress) {
		domain = fromAddress[at+1:]
	}
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, orderID)
	return "temporary-card." + safe + "." + kind + "." + token + "@" + domain
}
