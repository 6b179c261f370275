package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandWrittenPartSurvivesANewReport(t *testing.T) {
	part := handWrittenBegin + "\n## Restarts\n\nmeasured by hand\n" + handWrittenEnd
	cases := []struct {
		name, old, want string
	}{
		{"kept with its markers", "# Benchmark results\n\n## Summary\n" + part + "\n## benchstat\n", "\n" + part + "\n"},
		{"no part", "# Benchmark results\n\n## benchstat\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "RESULTS.md")
			require.NoError(t, os.WriteFile(path, []byte(c.old), 0o644))
			got, err := handWritten(path)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestHandWrittenWithoutAReportIsEmpty(t *testing.T) {
	got, err := handWritten(filepath.Join(t.TempDir(), "RESULTS.md"))
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestHandWrittenPartWithoutItsEndIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	require.NoError(t, os.WriteFile(path, []byte("# r\n"+handWrittenBegin+"\n## Restarts\n"), 0o644))
	_, err := handWritten(path)
	assert.ErrorContains(t, err, "without")
}

func TestHandWrittenUnreadableReportIsAnError(t *testing.T) {
	_, err := handWritten(t.TempDir()) // a directory, not a file
	assert.Error(t, err)
}
