package captcha

import (
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
)

// renderer seeds the drawing of challenges. Its key comes from HELLO_SECRET, so every replica
// draws one id identically (a client reloading an image or sound gets the same one, never a new
// sample of the same digits to average) while nobody without the secret can predict the drawing.
type renderer struct{ key [sha256.Size]byte }

func newRenderer(secret []byte) renderer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("hello captcha render"))
	var r renderer
	m.Sum(r.key[:0])
	return r
}

// rand returns the generator for one medium ("image", "audio") of challenge id. Ids are
// canonical base64 of the sealed bytes, so the id text stands for those bytes.
func (r renderer) rand(medium, id string) *rand.Rand {
	m := hmac.New(sha256.New, r.key[:])
	m.Write([]byte(medium))
	m.Write([]byte{0})
	m.Write([]byte(id))
	var seed [32]byte
	m.Sum(seed[:0])
	return rand.New(rand.NewChaCha8(seed))
}

// between returns a uniform float in [lo, hi).
func between(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
