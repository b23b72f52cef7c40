import type { CommandModule } from "../command.js";
import { UserError } from "../errors.js";

const command: CommandModule = {
  command: "sink",
  describe: "not implemented yet",
  builder: (y) => y,
  handler: () => {
    throw new UserError("tun sink is not implemented yet");
  },
};
export default command;
