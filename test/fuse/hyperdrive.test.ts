// The FUSE suites against a real Hyperdrive on disk.
import { HYPERDRIVE_FIXTURE } from './mount-harness.js'
import { complianceSuite } from './suites/compliance.js'
import { listingCacheSuite } from './suites/listing-cache.js'
import { readOnlySuite } from './suites/read-only.js'
import { readFailuresSuite } from './suites/read-failures.js'
import { recoverySuite } from './suites/recovery.js'
import { coreMountSuite, versionsAndMountsSuite } from './suites/versions-and-mounts.js'

complianceSuite(HYPERDRIVE_FIXTURE)
readOnlySuite(HYPERDRIVE_FIXTURE)
readFailuresSuite(HYPERDRIVE_FIXTURE)
recoverySuite(HYPERDRIVE_FIXTURE)
versionsAndMountsSuite(HYPERDRIVE_FIXTURE)
coreMountSuite(HYPERDRIVE_FIXTURE)
listingCacheSuite(HYPERDRIVE_FIXTURE)
