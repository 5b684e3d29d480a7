// The FUSE suites against the in-memory drive on the fallback binding
// (HYPERFS_FUSE=fuse-native, inherited by the host processes the suites
// start). memory-drive.test.ts runs them on the default binding, the native
// one wherever its addon builds: together they run every suite on both.
import { MEMORY_FIXTURE } from './mount-harness.js'
import { complianceSuite } from './suites/compliance.js'
import { readOnlySuite } from './suites/read-only.js'
import { readFailuresSuite } from './suites/read-failures.js'
import { recoverySuite } from './suites/recovery.js'
import { coreMountSuite, versionsAndMountsSuite } from './suites/versions-and-mounts.js'

process.env.HYPERFS_FUSE = 'fuse-native'
const fixture = { ...MEMORY_FIXTURE, name: `${MEMORY_FIXTURE.name} on fuse-native` }

complianceSuite(fixture)
readOnlySuite(fixture)
readFailuresSuite(fixture)
recoverySuite(fixture)
versionsAndMountsSuite(fixture)
coreMountSuite(fixture)
