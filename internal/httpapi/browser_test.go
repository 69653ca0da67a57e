package httpapi_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hellosvc/hello/internal/testenv"
)

// TestBrowserSignupWithCaptchaThenLogin drives headless Chromium through the HTML forms: sign
// up, solving the captcha as a person would (the test reads the digits with the server's
// secret), log in, and see the name on the home page.
func TestBrowserSignupWithCaptchaThenLogin(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: apt-get install chromium (scripts/test does it as root)")
	}
	h := testenv.StartHello(t, map[string]string{"HELLO_CAPTCHA": "on"})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), // no internet here
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	// chromedp v0.23: Do runs steps, Run returns one step's result; a plain string selector is
	// a DOM search, which accepts CSS selectors.
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v\nlogs:\n%s", what, err, h.Logs)
		}
	}
	step("opening the signup form", chromedp.Do(ctx,
		chromedp.Navigate(h.URL+"/signup"),
		chromedp.WaitVisible(`#captcha-image`),
	))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("captcha-image").complete`))
	step("loading the captcha image", err)
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("captcha-image").naturalWidth`))
	step("measuring the captcha image", err)
	id, err := chromedp.Run(ctx, chromedp.AttributeValue(`input[name="captcha_id"]`, "value"))
	step("reading the captcha id", err)
	if width == 0 || id.Value == "" {
		t.Fatalf("the captcha did not render (image width %d, id %q)", width, id.Value)
	}

	step("signing up", chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="username"]`, "Browser.User"),
		chromedp.SendKeys(`input[name="password"]`, "correct horse battery"),
		chromedp.SendKeys(`input[name="captcha_answer"]`, testenv.SolveCaptcha(t, id.Value)),
		chromedp.Submit(`input[name="username"]`),
		chromedp.WaitVisible(`p.notice`),
	))
	notice, err := chromedp.Run(ctx, chromedp.Text(`p.notice`))
	step("reading the notice", err)

	step("logging in", chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="username"]`, "browser.user"),
		chromedp.SendKeys(`input[name="password"]`, "correct horse battery"),
		chromedp.Submit(`input[name="username"]`),
		chromedp.WaitVisible(`#username`),
	))
	shown, err := chromedp.Run(ctx, chromedp.Text(`#username`))
	step("reading the name on the home page", err)
	if notice != "Your account is ready: log in." {
		t.Errorf("after signup the login page says %q", notice)
	}
	if shown != "browser.user" {
		t.Fatalf("home page shows %q, want browser.user", shown)
	}
}
