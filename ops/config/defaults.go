package config

import "time"

// Default returns the configuration used when no file sets a value: the
// thresholds of the reference system, 5s checks with 3s connects, state and
// backups under the XDG directories. No target is configured and no
// namespace is named: the kubeconfig context's namespace applies, as in kubectl. The result is a fresh value the caller may modify.
func Default() *Config {
	return &Config{
		StateDir: DefaultStateDir(),
		Theme:    DefaultTheme,
		Backup: BackupConfig{
			Dir:              DefaultBackupDir(),
			CompressionLevel: DefaultCompressionLevel,
			Retention:        DefaultBackupRetention(),
			Every:            DefaultBackupEvery(),
			RetentionBy:      RetentionPolicy{Base: BaseRetention{Count: 2, Days: 14}},
			LogsWindow:       DefaultLogsWindow,
		},
		Postgres:   PostgresConfig{WAL: DefaultWAL()},
		Kubernetes: KubeConfig{LogLines: DefaultLogLines},
		Thresholds: DefaultThresholds(),
		Timeouts: Timeouts{
			Check:   5 * time.Second,
			Connect: 3 * time.Second,
		},
		Metrics:     DefaultMetrics(),
		Monitoring:  DefaultMonitoring(),
		Maintenance: DefaultMaintenance(),
		Restore:     DefaultRestore(),
		Drill:       DefaultDrill(),
		Incident:    DefaultIncident(),
		Checks:      DefaultChecks(),
		Bundle:      DefaultBundle(),
	}
}

// DefaultThresholds returns the default alerting levels.
func DefaultThresholds() Thresholds {
	return Thresholds{
		CPUPercent:           Limit{Warn: 80, Crit: 90},
		MemoryPercent:        Limit{Warn: 85, Crit: 90},
		DiskPercent:          Limit{Warn: 90, Crit: 95},
		APIP95:               DurationLimit{Warn: 2 * time.Second, Crit: 5 * time.Second},
		APIErrorRatePercent:  Limit{Warn: 1, Crit: 5},
		DBConnectionsPercent: Limit{Warn: 80, Crit: 95},
		CacheHitRatioPercent: Limit{Warn: 90, Crit: 80},
		RedisMemoryPercent:   Limit{Warn: 90, Crit: 95},
		RedisHitRatePercent:  Limit{Warn: 90, Crit: 80},
		LongestTransaction:   DurationLimit{Warn: 5 * time.Minute, Crit: 30 * time.Minute},
		ReplicationLag:       DurationLimit{Warn: 30 * time.Second, Crit: 5 * time.Minute},
		PodRestarts:          Limit{Warn: 3, Crit: 10},
		WALArchiveLag:        DurationLimit{Warn: time.Minute, Crit: 5 * time.Minute},
		SlotRetainedBytes:    Limit{Warn: 1 << 30, Crit: 4 << 30},

		DBTransactionsPerSec:   Limit{Warn: 5000, Crit: 10000},
		DBTuplesPerSec:         Limit{Warn: 500000, Crit: 2000000},
		DBDeadlocksPerMinute:   Limit{Warn: 1, Crit: 5},
		DBTempMiBPerSec:        Limit{Warn: 10, Crit: 100},
		DBSizeGiB:              Limit{Warn: 100, Crit: 500},
		RedisOpsPerSec:         Limit{Warn: 50000, Crit: 100000},
		RedisClientsPercent:    Limit{Warn: 80, Crit: 95},
		RedisEvictionsPerSec:   Limit{Warn: 1, Crit: 50},
		RedisKeys:              Limit{Warn: 10000000, Crit: 50000000},
		NodesNotReady:          Limit{Warn: 1, Crit: 2},
		PodsNotReady:           Limit{Warn: 1, Crit: 5},
		APIRequestsPerSec:      Limit{Warn: 500, Crit: 1000},
		ActiveUsers:            Limit{Warn: 1, Crit: 0},
		DataUpdatesPerMinute:   Limit{Warn: 1, Crit: 0},
		TaskSuccessRatePercent: Limit{Warn: 95, Crit: 90},
		DataQualityPercent:     Limit{Warn: 99.5, Crit: 98},
	}
}
