/** File transfer from lab hosts. */
export { fetchFiles, type SftpConnection, type FetchOptions, type FetchResult } from './sftp.js';
export { globToRegExp, splitPattern, isGlobSegment, type SplitPattern } from './glob.js';
export { localPathFor } from './dest.js';
