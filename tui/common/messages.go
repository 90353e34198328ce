package common

// KubeInfoMsg tells the root model which cluster the cockpit is looking at,
// for the status bar. The Health tab sends it once it has connected.
type KubeInfoMsg struct {
	Context    string
	Server     string
	Namespaces []string
}
