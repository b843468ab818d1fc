/**
 * API reports: one `api/<entry>.api.md` per entry point of every published package, written by API Extractor from the
 * built `.d.ts`, so a change to a public surface shows up in review as a diff of that file.
 *
 *   pnpm api         regenerate the reports (after `pnpm build`)
 *   pnpm api:check   fail when a report differs from the build, or (in core) an export has no TSDoc comment
 *
 * The entry points are read from each package's `exports`, so a new subpath gets its report without editing this file.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';

const ROOT = path.resolve(import.meta.dirname, '..');
const check = process.argv.includes('--check');
const temp = mkdtempSync(path.join(tmpdir(), 'sealflow-api-'));

interface Entry {
  packageDir: string;
  packageName: string;
  reportName: string;
  typesPath: string;
}

type Conditions = { types?: string; import?: Conditions | string } | string;

/** The ESM `.d.ts` of every entry point in the `exports` of each published (non-private) workspace package. */
function entries(): Entry[] {
  const found: Entry[] = [];
  for (const dir of readdirSync(path.join(ROOT, 'packages')).sort()) {
    const packageDir = path.join(ROOT, 'packages', dir);
    const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
    if (manifest.private) continue;
    for (const [subpath, conditions] of Object.entries<Conditions>(manifest.exports ?? {})) {
      const types = typesOf(conditions);
      if (!types) continue;
      const reportName = subpath === '.' ? 'index' : subpath.replace(/^\.\//, '').replaceAll('/', '-');
      found.push({ packageDir, packageName: manifest.name, reportName, typesPath: path.join(packageDir, types) });
    }
  }
  return found;
}

function typesOf(conditions: Conditions | undefined): string | undefined {
  if (!conditions || typeof conditions === 'string') return undefined;
  if (conditions.types) return conditions.types;
  return typesOf(conditions.import);
}

function tempReportFolder(entry: Entry): string {
  return path.join(temp, 'reports', entry.packageName.replace(/\W/g, '_'));
}

function configFor(entry: Entry): ExtractorConfig {
  if (!check) mkdirSync(path.join(entry.packageDir, 'api'), { recursive: true });
  const configPath = path.join(temp, `${entry.packageName.replace(/\W/g, '_')}.${entry.reportName}.json`);
  const config = {
    projectFolder: entry.packageDir,
    mainEntryPointFilePath: entry.typesPath,
    newlineKind: 'lf',
    compiler: {
      overrideTsconfig: {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023', 'DOM'],
          module: 'ESNext',
          moduleResolution: 'Bundler',
          strict: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files: [entry.typesPath],
      },
    },
    apiReport: {
      enabled: true,
      reportFileName: `${entry.reportName}.api.md`,
      reportFolder: path.join(entry.packageDir, 'api'),
      reportTempFolder: tempReportFolder(entry),
    },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      extractorMessageReporting: {
        // The packages do not use release tags (@public, @beta): the entry point decides what is public.
        'ae-missing-release-tag': { logLevel: 'none' },
      },
    },
  };
  writeFileSync(configPath, JSON.stringify(config));
  return ExtractorConfig.prepare({
    configObject: ExtractorConfig.loadFile(configPath),
    configObjectFullPath: configPath,
    packageJsonFullPath: path.join(entry.packageDir, 'package.json'),
  });
}

/** Top-level declarations of a report that API Extractor marked `(undocumented)`. */
function undocumented(reportPath: string): string[] {
  const lines = readFileSync(reportPath, 'utf8').split('\n');
  return lines.flatMap((line, i) => (line === '// @public (undocumented)' ? [lines[i + 1] ?? ''] : []));
}

/** Packages whose every exported declaration must carry a TSDoc comment. */
const FULLY_DOCUMENTED = new Set([
  '@sealflow/core',
  '@sealflow/adapter-local',
  '@sealflow/adapter-storage',
  '@sealflow/font-noto-sans-sc',
  '@sealflow/reports',
]);

let failed = false;
for (const entry of entries()) {
  const label = `${entry.packageName}${entry.reportName === 'index' ? '' : `/${entry.reportName}`}`;
  const result = Extractor.invoke(configFor(entry), {
    localBuild: !check,
    showVerboseMessages: false,
    messageCallback: (message) => {
      // Only errors; warnings are written into the report itself where they matter.
      if (message.logLevel === ExtractorLogLevel.Warning) message.logLevel = ExtractorLogLevel.Verbose;
    },
  });
  // The report as built now (API Extractor writes it to the temp folder in both modes).
  const missingDocs = undocumented(path.join(tempReportFolder(entry), `${entry.reportName}.api.md`));
  if (FULLY_DOCUMENTED.has(entry.packageName) && missingDocs.length > 0) {
    console.error(`${label}: exports without a TSDoc comment:\n  ${missingDocs.join('\n  ')}`);
    failed = true;
  }
  if (!result.succeeded) {
    console.error(
      check
        ? `${label}: the public API differs from packages/${path.basename(entry.packageDir)}/api/${entry.reportName}.api.md — run \`pnpm build && pnpm api\` and commit the report.`
        : `${label}: API Extractor failed (${result.errorCount} errors).`,
    );
    failed = true;
  } else {
    console.log(`${label}: ${result.apiReportChanged ? 'report updated' : 'unchanged'}`);
  }
}
process.exit(failed ? 1 : 0);
