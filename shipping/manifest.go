package shipping

import (
	"cmp"
	"slices"
	"time"
)

// A Manifest is the list the post signs for at a pickup: per postal code, how many letters and
// parcels, and their ids; the totals must equal what is handed over.
type Manifest struct {
	Batch   BatchID
	Pickup  time.Time
	Sender  Address
	Lines   []ManifestLine
	Letters int
	Parcels int
}

// A ManifestLine is one postal code of a manifest.
type ManifestLine struct {
	PostalCode  string
	City        string
	Letters     int
	Parcels     int
	EnvelopeIDs []EnvelopeID
	ParcelIDs   []ParcelID
}

// NewManifest summarises a batch for the post, lines sorted by postal code.
func NewManifest(b Batch, sender Address) Manifest {
	m := Manifest{Batch: b.ID, Pickup: b.Pickup, Sender: sender}
	line := func(a Address) *ManifestLine {
		i := slices.IndexFunc(m.Lines, func(l ManifestLine) bool { return l.PostalCode == a.PostalCode })
		if i < 0 {
			m.Lines = append(m.Lines, ManifestLine{PostalCode: a.PostalCode, City: a.City})
			i = len(m.Lines) - 1
		}
		return &m.Lines[i]
	}
	for _, e := range b.Envelopes {
		l := line(e.To)
		l.Letters++
		l.EnvelopeIDs = append(l.EnvelopeIDs, e.ID)
		m.Letters++
	}
	for _, p := range b.Parcels {
		l := line(p.To)
		l.Parcels++
		l.ParcelIDs = append(l.ParcelIDs, p.ID)
		m.Parcels++
	}
	slices.SortFunc(m.Lines, func(a, b ManifestLine) int { return cmp.Compare(a.PostalCode, b.PostalCode) })
	for i := range m.Lines {
		slices.Sort(m.Lines[i].EnvelopeIDs)
		slices.Sort(m.Lines[i].ParcelIDs)
	}
	return m
}
