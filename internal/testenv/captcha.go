package testenv

import (
	"testing"

	"github.com/hellosvc/hello/internal/captcha"
	"github.com/hellosvc/hello/internal/guard/memory"
)

// SolveCaptcha returns the answer of a challenge issued by a test service, read with the
// service's secret: what a person would read off the image.
func SolveCaptcha(t testing.TB, id string) string {
	t.Helper()
	c, err := captcha.New(captcha.Options{Secret: []byte(Secret), Spent: memory.New(memory.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	answer, err := c.Answer(id)
	if err != nil {
		t.Fatalf("reading captcha %q: %v", id, err)
	}
	return answer
}
