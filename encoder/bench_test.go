package encoder

import (
	"fmt"
	"testing"
)

// BenchmarkEncodeInProcess encodes and verifies a card on the in-process emulator: the cost of
// planning, signing and the card logic without PC/SC, and the APDU count with multi-block commands
// and with one block per command (readers that refuse multi-block).
func BenchmarkEncodeInProcess(b *testing.B) {
	keys := DevKeys()
	for _, single := range []bool{false, true} {
		b.Run(fmt.Sprintf("single-block=%v", single), func(b *testing.B) {
			apdus := 0
			for i := 0; b.Loop(); i++ {
				card := NewBlankCard([]byte{0x04, 1, 2, 3, byte(i >> 16), byte(i >> 8), byte(i)}, Faults{})
				s := newSession(card)
				s.single = single
				if _, err := encodeSession(s, testRecord(), keys, EncodeOptions{}); err != nil {
					b.Fatal(err)
				}
				apdus = s.apdus
			}
			b.ReportMetric(float64(apdus), "APDUs/card")
		})
	}
}
