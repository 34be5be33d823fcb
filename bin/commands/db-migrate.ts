import { closeDatabase, migrate, openDatabase } from '../../lib/db/index.ts';
import { configFromArgs, type Command } from './command.ts';

export const dbMigrate: Command = {
  name: 'db migrate',
  summary: 'apply pending database migrations',
  help: 'Applies every pending migration to the configured database (database.url, or PGlite in data_dir). Safe to run again.',
  async run(argv) {
    const config = configFromArgs(argv);
    const db = openDatabase({ url: config['database.url'], dataDir: config.data_dir, poolMax: 2 });
    try {
      const applied = await migrate(db);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    } finally {
      await closeDatabase(db);
    }
    return 0;
  },
};
