package main

import "testing"

func TestCheckRefusesWhatCannotBeTheNextRelease(t *testing.T) {
	const root = "github.com/tarilabs/userauth"
	mods := []string{root, root + "/redisstore"}
	for _, tc := range []struct {
		v, last  string
		breaking bool
		ok       bool
	}{
		{"v0.1.0", "", false, true},
		{"v0.2.0-rc.1", "v0.1.0", true, true},
		{"v1", "", false, false},
		{"v01.2.3", "", false, false},
		{"v1.2.3+meta", "", false, false},
		{"v1.0.0-01", "", false, false},                            // a numeric identifier with a leading zero
		{"v0.1.0-0.20260101000000-abcdefabcdef", "", false, false}, // a pseudo-version's shape
		{"v2.0.0", "", false, false},                               // the path has no /v2
		{"v0.1.0", "v0.1.0", false, false},                         // tagged already
		{"v0.0.5", "v0.1.0", false, false},                         // older
		{"v0.1.1", "v0.1.0", true, false},                          // a breaking patch
		{"v0.1.1", "v0.1.0", false, true},
		{"v0.2.0", "v0.1.0", true, true},
	} {
		if err := check(tc.v, mods, tc.last, tc.breaking); (err == nil) != tc.ok {
			t.Errorf("check(%s, last %q, breaking %v) = %v, want ok=%v", tc.v, tc.last, tc.breaking, err, tc.ok)
		}
	}
}

func TestNextPatch(t *testing.T) {
	for last, want := range map[string]string{"v0.1.0": "v0.1.1", "v1.2.9": "v1.2.10", "v0.2.0-rc.1": "v0.2.0"} {
		if got, err := nextPatch(last); err != nil || got != want {
			t.Errorf("nextPatch(%s) = %s, %v; want %s", last, got, err, want)
		}
	}
}
