package shipping

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteCSV writes the manifest as CSV (RFC 4180, comma-separated, UTF-8): a header row, then one
// row per postal code, its ids separated by single spaces.
func (m Manifest) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"postal_code", "city", "letters", "parcels", "envelope_ids", "parcel_ids"}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write manifest %s CSV: %w", m.Batch, err)
	}
	for _, l := range m.Lines {
		env := make([]string, len(l.EnvelopeIDs))
		for i, id := range l.EnvelopeIDs {
			env[i] = string(id)
		}
		par := make([]string, len(l.ParcelIDs))
		for i, id := range l.ParcelIDs {
			par[i] = string(id)
		}
		row := []string{l.PostalCode, l.City, strconv.Itoa(l.Letters), strconv.Itoa(l.Parcels), strings.Join(env, " "), strings.Join(par, " ")}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write manifest %s CSV: %w", m.Batch, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write manifest %s CSV: %w", m.Batch, err)
	}
	return nil
}
