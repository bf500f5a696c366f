package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunFlags(t *testing.T) {
	key := "ptg_" + strings.Repeat("A", 46)
	env := func(k string) func(string) string {
		return func(name string) string {
			if name == "PTG_LOAD_KEY" {
				return k
			}
			return ""
		}
	}
	tests := []struct {
		name     string
		args     []string
		key      string
		wantCode int
		wantErr  string
	}{
		{name: "help_exits_zero_and_lists_the_flags", args: []string{"--help"}, wantCode: 0, wantErr: "--server-pid"},
		{name: "a_missing_key_is_a_usage_error", args: []string{"--url", "http://127.0.0.1:1"}, wantCode: 2, wantErr: "PTG_LOAD_KEY"},
		{name: "a_url_with_a_path_fragment_is_a_usage_error", args: []string{"--url", "http://h/#x"}, key: key, wantCode: 2, wantErr: "--url"},
		{name: "a_url_without_a_scheme_is_a_usage_error", args: []string{"--url", "127.0.0.1:8080"}, key: key, wantCode: 2, wantErr: "--url"},
		{name: "an_unknown_operation_in_the_mix_is_a_usage_error", args: []string{"--mix", "key_read=1,drop=1"}, key: key, wantCode: 2, wantErr: "unknown operation"},
		{name: "a_zero_rate_is_a_usage_error", args: []string{"--rate", "0.01"}, key: key, wantCode: 2, wantErr: "--rate"},
		{name: "a_stray_argument_is_a_usage_error", args: []string{"now"}, key: key, wantCode: 2, wantErr: "unexpected argument"},
		{name: "an_unknown_flag_is_a_usage_error", args: []string{"--rps", "3"}, key: key, wantCode: 2, wantErr: "not defined"},
		{name: "an_unreachable_server_fails_the_run", args: []string{"--url", "http://127.0.0.1:1", "--duration", "1s", "--out", ""},
			key: key, wantCode: 1, wantErr: "connection_refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr, env(tt.key))
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Fatalf("exit %d, want %d; stderr %q lacks %q", code, tt.wantCode, stderr.String(), tt.wantErr)
			}
			if strings.Contains(stderr.String(), key) || strings.Contains(stdout.String(), key) {
				t.Fatal("the key was printed")
			}
		})
	}
}
