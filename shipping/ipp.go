package shipping

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"cardline/printer"
)

// The document formats a label job can go in. ZPL goes to the printer untouched: CUPS raw
// queues take it as application/vnd.cups-raw, other IPP printers as application/octet-stream.
const (
	FormatPDF = "application/pdf"
	FormatZPL = "application/vnd.cups-raw"
)

// LabelDocument builds the IPP print job for labels on a label printer in status st, named name
// (the batch id): ZPL if zpl, sent as raw data in whichever raw format the printer takes, else
// PDF pages of 4 × 6 in on the printer's 4 × 6 in media. A printer that takes neither the format
// nor (for PDF) 4 × 6 in media is refused before anything is sent.
func (l *Labeler) LabelDocument(st *printer.PrinterStatus, name string, labels []Label, zpl bool) (printer.Document, error) {
	doc := printer.Document{Name: name, Sides: "one-sided"}
	var buf bytes.Buffer
	if zpl {
		for _, f := range []string{FormatZPL, "application/octet-stream"} {
			if slices.Contains(st.DocumentFormats, f) {
				doc.Format = f
				break
			}
		}
		if doc.Format == "" {
			return doc, fmt.Errorf("label job %s: printer takes no raw data for ZPL (it takes %q)", name, st.DocumentFormats)
		}
		if err := l.WriteZPL(&buf, labels); err != nil {
			return doc, fmt.Errorf("label job %s: %w", name, err)
		}
		doc.Data = buf.Bytes()
		// ZPL sets its own label size; media is sent only if the printer names 4 × 6 in media.
		doc.Media, _ = printer.ChooseMedia(printer.Label4x6, st.MediaReady, st.MediaSupported)
		return doc, nil
	}
	if !slices.Contains(st.DocumentFormats, FormatPDF) {
		return doc, fmt.Errorf("label job %s: printer does not take PDF (it takes %q)", name, st.DocumentFormats)
	}
	media, err := printer.ChooseMedia(printer.Label4x6, st.MediaReady, st.MediaSupported)
	if err != nil {
		return doc, fmt.Errorf("label job %s: %w", name, err)
	}
	if err := l.WritePDF(&buf, labels); err != nil {
		return doc, fmt.Errorf("label job %s: %w", name, err)
	}
	doc.Format, doc.Media, doc.Data = FormatPDF, media, buf.Bytes()
	return doc, nil
}

// PrintLabels prints labels as one job named name on the label printer c (a label queue through
// the same IPP client as the card printers) and waits for the job to end. onFault hears printer
// faults (out of labels, door open) as they are first seen.
func (l *Labeler) PrintLabels(ctx context.Context, c *printer.Client, name string, labels []Label, zpl bool, onFault func(printer.Fault)) (*printer.JobResult, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("print labels %s: %w", name, err)
	}
	doc, err := l.LabelDocument(st, name, labels, zpl)
	if err != nil {
		return nil, err
	}
	res, err := c.Print(ctx, doc, onFault)
	if err != nil {
		return res, fmt.Errorf("print labels %s: %w", name, err)
	}
	return res, nil
}
