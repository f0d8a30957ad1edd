package production

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"cardline/internal/pgcluster"
	"cardline/internal/testsupport"
)

// photoOfSize makes a 600×800 JPEG of about want bytes (noise makes it incompressible enough).
func photoOfSize(b testing.TB, want int) []byte {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewRGBA(image.Rect(0, 0, 600, 800))
	for noise := 2; noise < 256; noise += 4 {
		for y := range 800 {
			for x := range 600 {
				v := uint8(120 + rng.IntN(noise)/2)
				img.SetRGBA(x, y, color.RGBA{v, v, uint8(min(255, int(v)+20)), 255})
			}
		}
		var buf bytes.Buffer
		jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
		if buf.Len() >= want {
			return buf.Bytes()
		}
	}
	b.Fatal("could not make a photo that large")
	return nil
}

// BenchmarkValidate is one order of one card: decode, every rule, and the re-encode of the photo
// for storage. "noisy-100KB" is a 600×800 JPEG of about 100 KB whose noise makes it costly to code;
// "portrait" is a drawn 600×800 portrait, closer to a real passport-style photo.
func BenchmarkValidate(b *testing.B) {
	v := testValidator(b)
	for _, c := range []struct {
		name  string
		photo []byte
	}{{"noisy-100KB", photoOfSize(b, 100_000)}, {"portrait", NewSamples(3).Photo(600, 800)}} {
		b.Run(c.name, func(b *testing.B) {
			m := sampleMessage(b)
			m.Cards = m.Cards[:1]
			m.Cards[0].Photo.Data = base64.StdEncoding.EncodeToString(c.photo)
			b.ReportMetric(float64(len(c.photo)), "photo-bytes")
			for b.Loop() {
				if _, ps := v.Validate(m); ps != nil {
					b.Fatal(ps)
				}
			}
		})
	}
}

// BenchmarkPhotoDecodeOnly separates the photo decode from the rest of validation.
func BenchmarkPhotoDecodeOnly(b *testing.B) {
	data := base64.StdEncoding.EncodeToString(photoOfSize(b, 100_000))
	for b.Loop() {
		if _, ps := decodePhoto("image/jpeg", data); ps != nil {
			b.Fatal(ps)
		}
	}
}

// BenchmarkStorePhoto is the print-ready copy intake keeps of a decoded upload: fitted to the
// photo box and JPEG-encoded; plane by plane for a JPEG upload, through RGBA for anything else.
func BenchmarkStorePhoto(b *testing.B) {
	img, ps := decodePhoto("image/jpeg", base64.StdEncoding.EncodeToString(photoOfSize(b, 100_000)))
	if ps != nil {
		b.Fatal(ps)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Rect, img, img.Bounds().Min, draw.Src)
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"jpeg-upload", img}, {"other-upload", rgba}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := encodePhoto(c.img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIntakeThroughput measures intake end to end on a durable cluster (fsync and
// synchronous commit on): b.N one-card orders with small photos are published by a concurrent
// producer and consumed by the intake router; the clock stops when every order is stored with its
// events and the input topic is empty. Reported as orders/s, with validation inline in the handler
// and with the Prevalidator working ahead on every core.
func BenchmarkIntakeThroughput(b *testing.B) {
	for _, inline := range []bool{true, false} {
		name := "ahead"
		if inline {
			name = "inline"
		}
		b.Run(name, func(b *testing.B) { benchmarkIntake(b, inline) })
	}
}

func benchmarkIntake(b *testing.B, inline bool) {
	if _, err := pgcluster.BinDir(); err != nil {
		testsupport.Missing(b, "PostgreSQL: %v", err)
	}
	ctx := context.Background()
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Stop()
	if err := cluster.CreateDatabase(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	l := openLine(b, cluster.URL("bench"))
	l.inline = inline
	s := NewSamples(5)
	small := base64.StdEncoding.EncodeToString(s.Photo(300, 400))
	payloads := make([][]byte, b.N)
	for i := range payloads {
		m := s.Order(1, time.Now().Add(-time.Hour))
		m.OrderID = "B-" + watermill.NewShortUUID()
		m.Cards[0].Photo.Data = small
		payloads[i] = marshal(b, m)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	done := l.runIntake(runCtx, b, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		const chunk = 100 // upstream publishes in batches, as an outbox would
		for i := 0; i < len(payloads); i += chunk {
			var msgs []*message.Message
			for _, p := range payloads[i:min(i+chunk, len(payloads))] {
				msgs = append(msgs, message.NewMessage(watermill.NewUUID(), p))
			}
			if err := l.bus.Publish(ctx, TopicOrdersApproved, msgs...); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	for l.count(b, `SELECT count(*) FROM orders`) < b.N {
		time.Sleep(5 * time.Millisecond)
	}
	l.waitDrained(b)
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	if n := l.count(b, `SELECT count(*) FROM `+"\"watermill_hms.orders.accepted.v1\""); n != b.N {
		b.Fatalf("%d accepted events for %d orders", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
}

// A phone-sized upload is stored from its 8 × 8 block means (jpeg.DecodeReduced) instead of a
// full decode; the stored photo is the same to within JPEG's own noise. (At eight times the box
// exactly, the block means are the stored size. Above it, a second box filter shrinks them the
// rest of the way, with the crop worked out on them: on this drawing's hard edges that is about
// 27–31 dB from a full decode's single box filter, a fraction of a stored pixel of softening.)
func TestLargePhotoStoredFromBlockMeans(t *testing.T) {
	raw := NewSamples(5).Photo(8*260, 8*331)
	img, ps := decodePhoto("image/jpeg", base64.StdEncoding.EncodeToString(raw))
	if ps != nil {
		t.Fatal(ps)
	}
	if b := img.Bounds(); b.Dx() != 260 || b.Dy() != 331 {
		t.Fatalf("decoded to %v, want the block means (260×331)", b)
	}
	reduced, err := encodePhoto(img)
	if err != nil {
		t.Fatal(err)
	}
	full, err := jpeg.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := encodePhoto(full)
	if err != nil {
		t.Fatal(err)
	}
	a, errA := reduced.Decode()
	b, errB := whole.Decode()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.Bounds() != b.Bounds() {
		t.Fatalf("stored %v from the block means, %v in full", a.Bounds(), b.Bounds())
	}
	var sum, n float64
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			for _, d := range []float64{float64(ar>>8) - float64(br>>8), float64(ag>>8) - float64(bg>>8), float64(ab>>8) - float64(bb>>8)} {
				sum += d * d
				n++
			}
		}
	}
	if psnr := 10 * math.Log10(255*255/(sum/n)); psnr < 35 {
		t.Errorf("stored photo from the block means is %.1f dB from the one from a full decode, want ≥ 35", psnr)
	} else {
		t.Logf("%.1f dB apart", psnr)
	}
}

// BenchmarkLargePhoto is intake's work on a phone's 12-megapixel upload: decode and store.
func BenchmarkLargePhoto(b *testing.B) {
	raw := NewSamples(5).Photo(3000, 4000)
	data := base64.StdEncoding.EncodeToString(raw)
	b.ReportMetric(float64(len(raw)), "photo-bytes")
	b.Run("block-means", func(b *testing.B) {
		for b.Loop() {
			img, ps := decodePhoto("image/jpeg", data)
			if ps != nil {
				b.Fatal(ps)
			}
			if _, err := encodePhoto(img); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full-decode", func(b *testing.B) {
		for b.Loop() {
			img, err := jpeg.Decode(bytes.NewReader(raw))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := encodePhoto(img); err != nil {
				b.Fatal(err)
			}
		}
	})
}
