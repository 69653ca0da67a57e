// Package web holds the HTML templates and static files, embedded into the binary.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Static returns the static files (served under /static/).
func Static() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// Pages renders the server-side pages.
type Pages struct {
	pages map[string]*template.Template
}

// Page names.
const (
	Index    = "index"
	Signup   = "signup"
	Login    = "login"
	NotFound = "notfound"
	Error    = "error"
)

// Parse parses every page with the shared layout.
func Parse() (*Pages, error) {
	p := &Pages{pages: map[string]*template.Template{}}
	for _, name := range []string{Index, Signup, Login, NotFound, Error} {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/captcha.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		p.pages[name] = t
	}
	return p, nil
}

// Render writes page with data.
func (p *Pages) Render(w io.Writer, page string, data any) error {
	t, ok := p.pages[page]
	if !ok {
		return fmt.Errorf("no page %q", page)
	}
	return t.ExecuteTemplate(w, "layout", data)
}
