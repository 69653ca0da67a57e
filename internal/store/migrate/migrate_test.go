package migrate

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr bool
	}{
		{"sorted by number", fstest.MapFS{
			"0010_b.sql": {Data: []byte("b")}, "0002_a.sql": {Data: []byte("a")}, "README": {},
		}, []int{2, 10}, false},
		{"duplicate version", fstest.MapFS{"0001_a.sql": {}, "1_b.sql": {}}, nil, true},
		{"bad name", fstest.MapFS{"init.sql": {}}, nil, true},
		{"zero version", fstest.MapFS{"0000_x.sql": {}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.files)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d migrations, want %d", len(got), len(tt.want))
			}
			for i, m := range got {
				if m.Version != tt.want[i] {
					t.Errorf("migration %d has version %d, want %d", i, m.Version, tt.want[i])
				}
			}
		})
	}
}
