// Drives node-q against the Go test server: node nodeq_client.js NODE_Q_DIR PORT USER PASSWORD
// Prints one JSON object: the answer to each query, or the connection error.
const q = require(process.argv[2]);
const Long = require(require.resolve("long", { paths: [process.argv[2]] }));
const port = Number(process.argv[3]);
const out = {};
q.connect({ host: "127.0.0.1", port: port, user: process.argv[4], password: process.argv[5] }, (err, con) => {
	if (err) {
		console.log(JSON.stringify({ connectError: String(err.message) }));
		return;
	}
	const queries = ["table", "dict", "atoms", "syms", "timestamps", "error", "compressed", "identity"];
	let i = 0;
	const next = () => {
		if (i === queries.length) {
			return echo();
		}
		const name = queries[i++];
		con.k(name, (err, res) => {
			if (err) {
				out[name] = { error: err.message };
			} else if (name === "compressed") {
				out[name] = { n: res.length, first: res[0], last: res[res.length - 1] };
			} else {
				out[name] = res;
			}
			next();
		});
	};
	const echo = () => {
		con.k("echo", q.longs([1, 2, 3].map((n) => Long.fromNumber(n))), q.symbols(["a", "b"]),
			q.timestamp(new Date(Date.UTC(2020, 0, 2, 12))), q.floats([1.5, NaN]),
			{ a: 1, b: "xy" }, q.guid("01234567-89ab-cdef-0001-020304050607"), q.ints([Infinity, 5]),
			(err, res) => {
				out.echo = err ? { error: err.message } : res;
				con.close(() => console.log(JSON.stringify(out)));
			});
	};
	next();
});
