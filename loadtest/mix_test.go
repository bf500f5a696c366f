package loadtest

import (
	"math"
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Mix
		wantErr string
	}{
		{name: "reads_weights_in_any_order", in: "key_revoke=1, key_read=60,token_read=2.5",
			want: Mix{OpKeyRead: 60, OpTokenRead: 2.5, OpKeyRevoke: 1}},
		{name: "reads_back_its_own_canonical_form", in: DefaultMix().String(), want: DefaultMix()},
		{name: "allows_zero_weights_beside_a_positive_one", in: "key_read=1,key_create=0", want: Mix{OpKeyRead: 1, OpKeyCreate: 0}},
		{name: "refuses_an_unknown_operation", in: "key_read=1,delete_everything=5", wantErr: "unknown operation"},
		{name: "refuses_a_probe_as_a_paced_operation", in: "probe_key_created=1", wantErr: "unknown operation"},
		{name: "refuses_a_missing_weight", in: "key_read", wantErr: "not op=weight"},
		{name: "refuses_a_negative_weight", in: "key_read=-1", wantErr: "≥ 0"},
		{name: "refuses_a_non_number", in: "key_read=lots", wantErr: "≥ 0"},
		{name: "refuses_not_a_number", in: "key_read=NaN", wantErr: "≥ 0"},
		{name: "refuses_an_operation_given_twice", in: "key_read=1,key_read=2", wantErr: "twice"},
		{name: "refuses_all_zero", in: "key_read=0", wantErr: "above 0"},
		{name: "refuses_an_empty_mix", in: "", wantErr: "above 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMix(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseMix(%q) error %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMix(%q): %v", tt.in, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ParseMix(%q) = %v, want %v", tt.in, got, tt.want)
			}
			for op, w := range tt.want {
				if got[op] != w {
					t.Fatalf("ParseMix(%q)[%s] = %v, want %v", tt.in, op, got[op], w)
				}
			}
		})
	}
}

func TestScheduler(t *testing.T) {
	tests := []struct {
		name string
		mix  Mix
		n    int
	}{
		{name: "deals_the_default_mix_in_proportion", mix: DefaultMix(), n: 100000},
		{name: "deals_a_write_heavy_mix_in_proportion", mix: Mix{OpKeyRead: 55, OpTokenRead: 25, OpTokenRequest: 14, OpKeyCreate: 3, OpKeyRevoke: 3}, n: 10000},
		{name: "deals_one_operation_only", mix: Mix{OpKeyCreate: 1}, n: 100},
		{name: "deals_fractional_weights", mix: Mix{OpKeyRead: 0.7, OpTokenRead: 0.3}, n: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScheduler(tt.mix)
			counts := map[Op]int{}
			last := map[Op]int{}
			maxGap := map[Op]int{}
			for i := range tt.n {
				op := s.next()
				counts[op]++
				if j, ok := last[op]; ok {
					maxGap[op] = max(maxGap[op], i-j)
				}
				last[op] = i
			}
			for _, op := range PacedOps {
				want := float64(tt.n) * tt.mix.Share(op)
				if math.Abs(float64(counts[op])-want) > 1 {
					t.Errorf("%s dealt %d times in %d, want %.1f ± 1", op, counts[op], tt.n, want)
				}
				// Smooth round robin spaces an operation evenly: no gap is
				// longer than twice its period (random choice would clump).
				if share := tt.mix.Share(op); share > 0 && float64(maxGap[op]) > 2*math.Ceil(1/share) {
					t.Errorf("%s: largest gap %d, want ≤ %.0f", op, maxGap[op], 2*math.Ceil(1/share))
				}
			}
		})
	}
}

func TestCreationsPerMinute(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want float64
	}{
		{name: "the_defaults_stay_under_the_servers_default_creation_limit",
			cfg: Config{Rate: DefaultRate, Mix: DefaultMix(), ClientEvery: DefaultClientEvery}, want: 40},
		{name: "counts_paced_creations_only_without_the_client_cycle",
			cfg: Config{Rate: 150, Mix: Mix{OpKeyRead: 97, OpKeyCreate: 3}}, want: 270},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.CreationsPerMinute(); math.Abs(got-tt.want) > 1e-6 {
				t.Fatalf("CreationsPerMinute() = %v, want %v", got, tt.want)
			}
		})
	}
	if DefaultCreateRate <= (Config{Rate: DefaultRate, Mix: DefaultMix(), ClientEvery: DefaultClientEvery}).CreationsPerMinute() {
		t.Fatal("the default mix needs more than the server's default creation limit")
	}
}
