// Prepared statements by SQL text, least recently used first out. Statements
// are keyed by shape (filter-sql.ts never puts a value into SQL text), so the
// cap is only a backstop: memory stays bounded whatever the requests are.
import type { Statement } from "better-sqlite3";
import type { Db } from "./db.js";

/** Most prepared statements kept per connection. */
export const STATEMENT_CACHE_MAX = 64;

export class StatementCache {
  private readonly statements = new Map<string, Statement<unknown[]>>();

  constructor(private readonly db: Db) {}

  get(sql: string): Statement<unknown[]> {
    let stmt = this.statements.get(sql);
    if (stmt) {
      this.statements.delete(sql); // re-inserted below: most recently used last
    } else {
      stmt = this.db.prepare<unknown[]>(sql);
      if (this.statements.size >= STATEMENT_CACHE_MAX) {
        this.statements.delete(this.statements.keys().next().value!);
      }
    }
    this.statements.set(sql, stmt);
    return stmt;
  }

  get size(): number {
    return this.statements.size;
  }
}
