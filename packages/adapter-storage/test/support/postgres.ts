import pg from 'pg';

/**
 * The PostgreSQL suites run against a real server: SEALFLOW_PG_URL, or the local one every developer machine and CI
 * have. Without one they are skipped, and the reason is printed, never passed silently.
 */
export async function probePostgres(): Promise<{ url: string; skip?: string }> {
  const url = process.env.SEALFLOW_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { url };
  } catch (error) {
    const skip = `no PostgreSQL at ${url.replace(/\/\/[^@]*@/, '//')}: ${(error as Error).message}`;
    console.warn(`[sealflow] skipping PostgreSQL tests: ${skip}`);
    return { url, skip };
  } finally {
    await client.end().catch(() => {});
  }
}
