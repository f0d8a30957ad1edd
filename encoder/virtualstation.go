package encoder

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// VirtualStation is a private pcscd with two vpcd slots, each with a virtual card reader, for the
// demo and tests: the same PC/SC path as a real coupler, with cards that the transport feeds and
// ejects. Rule: it points this process's PC/SC clients at its daemon (PCSCLITE_CSOCK_NAME), so it
// must start before the process's first PC/SC call, and a process has at most one.
type VirtualStation struct {
	PCSCD *PCSCD
	// Slots are the card slots of readers VirtualReader0 and VirtualReader1.
	Slots [2]*VirtualReader
}

// ReaderNames are the PC/SC names of the slots, in order.
func (v *VirtualStation) ReaderNames() [2]string { return [2]string{VirtualReader0, VirtualReader1} }

// StartVirtualStation starts pcscd with the vpcd driver in dir (which it creates) and connects
// nothing yet: insert cards through Slots or a VirtualTransport.
func StartVirtualStation(ctx context.Context, dir string, log *slog.Logger) (*VirtualStation, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if existing := os.Getenv("PCSCLITE_CSOCK_NAME"); existing != "" {
		log.Warn("replacing PCSCLITE_CSOCK_NAME; PC/SC clients already made in this process keep the old daemon", "old", existing)
	}
	d, err := StartPCSCD(ctx, dir, 0, log)
	if err != nil {
		return nil, fmt.Errorf("start virtual station: %w", err)
	}
	if err := os.Setenv("PCSCLITE_CSOCK_NAME", d.Socket); err != nil {
		_ = d.Stop()
		return nil, fmt.Errorf("start virtual station: %w", err)
	}
	v := &VirtualStation{PCSCD: d}
	for i := range v.Slots {
		v.Slots[i] = NewVirtualReader(d.VPCDAddr(i), log)
	}
	return v, nil
}

// Close removes the cards and stops pcscd.
func (v *VirtualStation) Close() error {
	for _, s := range v.Slots {
		s.Remove()
	}
	return v.PCSCD.Stop()
}

// VirtualTransport moves virtual cards through one station the way a card printer's transport
// moves real ones: FeedBlank puts a fresh blank (new UID) at the contactless coupler and returns
// once the reader sees it; EjectOutput and EjectReject take it out and return once the reader has
// seen it leave, so that the next card is never mistaken for the last. Rule: every card ends in
// exactly one of Output and Rejects.
type VirtualTransport struct {
	slot    *VirtualReader
	station *Station

	mu      sync.Mutex
	faults  []Faults
	output  []*VirtualCard
	rejects []*VirtualCard
}

// NewVirtualTransport returns the transport of the station whose reader is slot.
func NewVirtualTransport(slot *VirtualReader, station *Station) *VirtualTransport {
	return &VirtualTransport{slot: slot, station: station}
}

// QueueFaults makes the next blanks fed carry these faults, one per blank, in order.
func (t *VirtualTransport) QueueFaults(f ...Faults) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = append(t.faults, f...)
}

// FeedBlank puts a fresh blank card into the coupler and waits until the reader sees it.
func (t *VirtualTransport) FeedBlank(ctx context.Context) error {
	t.mu.Lock()
	var f Faults
	if len(t.faults) > 0 {
		f, t.faults = t.faults[0], t.faults[1:]
	}
	t.mu.Unlock()
	if t.slot.Card() != nil {
		return fmt.Errorf("feed blank: a card is still in the coupler")
	}
	t.slot.InsertBlank(f)
	if _, err := t.station.WaitForCard(ctx); err != nil {
		return fmt.Errorf("feed blank: %w", err)
	}
	return nil
}

// EjectOutput moves the card to the output hopper.
func (t *VirtualTransport) EjectOutput(ctx context.Context) error { return t.eject(ctx, &t.output) }

// EjectReject moves the card to the reject tray.
func (t *VirtualTransport) EjectReject(ctx context.Context) error { return t.eject(ctx, &t.rejects) }

func (t *VirtualTransport) eject(ctx context.Context, to *[]*VirtualCard) error {
	c := t.slot.Card()
	if c == nil {
		return fmt.Errorf("eject: no card in the coupler")
	}
	t.slot.Remove()
	t.mu.Lock()
	*to = append(*to, c)
	t.mu.Unlock()
	if err := t.station.WaitForRemoval(ctx); err != nil {
		return fmt.Errorf("eject: %w", err)
	}
	return nil
}

// Output returns the cards ejected to the output hopper, in order.
func (t *VirtualTransport) Output() []*VirtualCard {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*VirtualCard(nil), t.output...)
}

// Rejects returns the cards ejected to the reject tray, in order.
func (t *VirtualTransport) Rejects() []*VirtualCard {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*VirtualCard(nil), t.rejects...)
}

// ReinsertReject takes the last reject back into the coupler (an operator re-using a reject).
func (t *VirtualTransport) ReinsertReject(ctx context.Context) (*VirtualCard, error) {
	t.mu.Lock()
	if len(t.rejects) == 0 {
		t.mu.Unlock()
		return nil, fmt.Errorf("reinsert reject: the reject tray is empty")
	}
	c := t.rejects[len(t.rejects)-1]
	t.rejects = t.rejects[:len(t.rejects)-1]
	t.mu.Unlock()
	t.slot.Insert(c)
	if _, err := t.station.WaitForCard(ctx); err != nil {
		return nil, fmt.Errorf("reinsert reject: %w", err)
	}
	return c, nil
}
