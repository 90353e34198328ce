package restore

import (
	"fmt"
	"testing"
)

func TestMergeFKOrder(t *testing.T) {
	for _, tc := range []struct {
		parents      [][]int
		order, cycle string
	}{
		{[][]int{nil, nil}, "[0 1]", "[]"},
		{[][]int{{1}, nil}, "[1 0]", "[]"},        // 0 references 1
		{[][]int{{2}, {0}, nil}, "[2 0 1]", "[]"}, // a chain named children first
		{[][]int{{1}, {0}, nil}, "[2]", "[0 1]"},  // a cycle
		{[][]int{{1}, {0}, {0}}, "[]", "[0 1 2]"}, // and a table that needs it
		{[][]int{{0}, nil}, "[1]", "[0]"},         // a self-reference is one (referencedBy leaves them out)
		{[][]int{nil, {0, 0, 7}}, "[0 1]", "[]"},  // out of range: ignored
	} {
		order, cycle := fkOrder(len(tc.parents), tc.parents)
		if got := fmt.Sprint(order); got != tc.order {
			t.Errorf("%v: order %v, want %s", tc.parents, order, tc.order)
		}
		if got := fmt.Sprint(cycle); got != tc.cycle {
			t.Errorf("%v: cycle %v, want %s", tc.parents, cycle, tc.cycle)
		}
	}
}
