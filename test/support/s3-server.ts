// The S3 test server lives with the simulation (src/simulation), which starts it too.
export { startS3Server, type TestS3Server } from '../../src/simulation/s3-server.js';
