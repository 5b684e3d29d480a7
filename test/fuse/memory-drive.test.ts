// The FUSE suites against the in-memory drive (or HYPERFS_FUSE_FIXTURE).
import { MEMORY_FIXTURE } from './mount-harness.js'
import { complianceSuite } from './suites/compliance.js'
import { listingCacheSuite } from './suites/listing-cache.js'
import { readOnlySuite } from './suites/read-only.js'
import { readFailuresSuite } from './suites/read-failures.js'
import { recoverySuite } from './suites/recovery.js'
import { coreMountSuite, versionsAndMountsSuite } from './suites/versions-and-mounts.js'

complianceSuite(MEMORY_FIXTURE)
readOnlySuite(MEMORY_FIXTURE)
readFailuresSuite(MEMORY_FIXTURE)
recoverySuite(MEMORY_FIXTURE)
versionsAndMountsSuite(MEMORY_FIXTURE)
coreMountSuite(MEMORY_FIXTURE)
listingCacheSuite(MEMORY_FIXTURE)
