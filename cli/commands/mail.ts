import type { CommandModule } from "../command.js";
import { UserError } from "../errors.js";

const command: CommandModule = {
  command: "mail",
  describe: "not implemented yet",
  builder: (y) => y,
  handler: () => {
    throw new UserError("tun mail is not implemented yet");
  },
};
export default command;
