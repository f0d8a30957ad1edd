package encoder_test

import (
	"context"
	"testing"

	"cardline/encoder"
	"github.com/ebfe/scard"
)

// BenchmarkAPDURoundTrip is one GET DATA (UID) through pcscd + vpcd + the emulator.
func BenchmarkAPDURoundTrip(b *testing.B) {
	d := pcscd.Need(b)
	slot := encoder.NewVirtualReader(d.VPCDAddr(1), nil)
	defer slot.Remove()
	st, _ := encoder.NewStation(encoder.VirtualReader1, encoder.DevKeys(), nil)
	defer st.Close()
	slot.InsertBlank(encoder.Faults{})
	if _, err := st.WaitForCard(context.Background()); err != nil {
		b.Fatal(err)
	}
	c, err := scard.EstablishContext()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Release()
	card, err := c.Connect(encoder.VirtualReader1, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		b.Fatal(err)
	}
	defer card.Disconnect(scard.LeaveCard)
	for b.Loop() {
		if _, err := card.Transmit([]byte{0xFF, 0xCA, 0, 0, 0}); err != nil {
			b.Fatal(err)
		}
	}
}
